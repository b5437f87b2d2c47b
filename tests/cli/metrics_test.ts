/**
 * `-metrics-addr`: OpenMetrics text over HTTP with members by status,
 * health, traffic, broadcast queues, streams, events, queries and handler
 * runs. Addresses 127.0.107.x.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Agent } from "../../src/agent/agent.ts";
import { finishConfig } from "../../src/agent/config.ts";
import {
  OPENMETRICS_CONTENT_TYPE,
  startMetricsServer,
} from "../../src/agent/metrics.ts";
import { pollUntil } from "../interop/serf_harness.ts";
import { grapevine, type Proc, rpcFlag, startAgent } from "./_helpers.ts";

function get(
  url: string,
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on(
        "end",
        () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers["content-type"]),
            body,
          }),
      );
    }).on("error", reject);
  });
}

function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("metrics: OpenMetrics text of an in-process agent pair", {
  timeout: 20_000,
}, async () => {
  const mk = (name: string, host: string) =>
    Agent.start(
      finishConfig({
        nodeName: name,
        bind: `${host}:7946`,
        profile: "local",
        rpcAddr: "",
      }).config,
    );
  const a = await mk("a", "127.0.107.1");
  const b = await mk("b", "127.0.107.2");
  const m = await startMetricsServer(a, "127.0.107.1:19107");
  try {
    await a.join(["127.0.107.2:7946"], false);
    a.userEvent("deploy", null, false);
    const url = `http://127.0.107.1:19107/metrics`;
    const body = await pollUntil(
      "both members, the event and some packets",
      async () => {
        const r = await get(url);
        assert.equal(r.status, 200);
        assert.equal(r.type, OPENMETRICS_CONTENT_TYPE);
        return sample(
                r.body,
                'grapevine_members{pool="lan",status="alive"}',
              ) === 2 &&
            (sample(r.body, 'grapevine_events_total{pool="lan",type="user"}') ??
                0) >= 1 &&
            (sample(
                r.body,
                'grapevine_bytes_total{pool="lan",direction="in"}',
              ) ?? 0) > 0
          ? r.body
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.ok(body.endsWith("# EOF\n"));
    assert.match(body, /^# TYPE grapevine_members gauge$/m);
    assert.match(body, /^# TYPE grapevine_messages counter$/m);
    assert.equal(
      sample(body, 'grapevine_members{pool="lan",status="failed"}'),
      0,
    );
    assert.equal(sample(body, 'grapevine_health_score{pool="lan"}'), 0);
    assert.ok(
      (sample(body, 'grapevine_messages_total{pool="lan",direction="out"}') ??
        0) > 0,
    );
    assert.ok(
      (sample(body, 'grapevine_bytes_total{pool="lan",direction="in"}') ?? 0) >
        0,
    );
    assert.ok(
      (sample(
        body,
        'grapevine_push_pull_streams_total{pool="lan",direction="out"}',
      ) ?? 0) >= 1,
    );
    assert.ok(
      sample(
        body,
        'grapevine_broadcast_queue_depth{pool="lan",queue="event"}',
      ) !== undefined,
    );
    assert.equal(sample(body, "grapevine_user_events_sent_total"), 1);
    assert.equal(sample(body, "grapevine_queries_sent_total"), 0);
    assert.equal((await get("http://127.0.107.1:19107/other")).status, 404);
  } finally {
    await m.close();
    await a.shutdown();
    await b.shutdown();
  }
});

test(
  "metrics: the -metrics-addr flag of grapevine agent",
  { timeout: 30_000 },
  async () => {
    let p: Proc | undefined;
    try {
      p = await startAgent({
        name: "m",
        bind: { host: "127.0.107.3", port: 7946 },
        rpc: { host: "127.0.107.3", port: 17373 },
        extra: ["-metrics-addr=127.0.107.3:19108"],
      });
      await p.waitFor(
        /Metrics addr: 'http:\/\/127\.0\.107\.3:19108\/metrics'/,
        10_000,
      );
      const q = await grapevine([
        "query",
        rpcFlag({ host: "127.0.107.3", port: 17373 }),
        "-timeout=300ms",
        "q",
      ]);
      assert.equal(q.code, 0, q.stderr);
      const r = await get("http://127.0.107.3:19108/metrics");
      assert.equal(r.status, 200);
      assert.equal(
        sample(r.body, 'grapevine_members{pool="lan",status="alive"}'),
        1,
      );
      assert.equal(sample(r.body, "grapevine_queries_sent_total"), 1);
    } finally {
      await p?.kill();
    }
  },
);
