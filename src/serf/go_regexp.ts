/**
 * Go `regexp` (RE2 syntax) patterns run on JS `RegExp`, for Serf's tag
 * filters (`regexp.MatchString(expr, tags[tag])`: **unanchored**, and a
 * pattern Go cannot compile means "not processed"; SPEC §8.2).
 *
 * The pattern is translated, not passed through, because the two dialects
 * differ where it matters:
 * - JS accepts what RE2 refuses (lookarounds, backreferences `\1`,
 *   `(?<name>`, which Go 1.19 lacks): refused here too, so such a filter
 *   matches nothing, as in Serf.
 * - JS refuses what RE2 accepts (in Unicode mode): `\Q…\E`, `\z`, `\A`,
 *   `[[:alpha:]]`, `\pL`, `\x{263a}`, octal `\123`, `(?P<name>`, a literal
 *   `{`/`}`/`]`, escaped punctuation such as `\-` or `\#`, leading flag
 *   groups `(?i)`, `(?s)`, `(?m)`: all translated.
 * - Same syntax, different meaning: `.` and `^`/`$` (multi-line) treat only
 *   `\n` as a line end in Go, also `\r`, U+2028 and U+2029 in JS; `\s` is
 *   `[\t\n\f\r ]` in Go but Unicode space (and `\v`) in JS: rewritten to
 *   Go's meaning.
 *
 * Not supported (the filter then does not match, and the reason is given):
 * flag groups other than at the very start (`a(?i)b`, `(?i:b)`), the
 * ungreedy flag `U`, negated POSIX classes `[[:^alpha:]]` and `\S` inside a
 * bracket class, and `\C`. Matching is on UTF-16 text with the `u` flag,
 * where Go matches UTF-8; invalid UTF-8 has already become U+FFFD in both.
 * Repetition counts above 1000 are refused, as RE2 does.
 *
 * @module
 */

/** Most compiled patterns cached (the cache is cleared when full). */
export const REGEXP_CACHE_SIZE = 256;

const cache = new Map<string, RegExp | string>();

// Characters JS allows after "\" in Unicode mode (outside / inside a class).
const JS_SYNTAX = "^$\\.*+?()[]{}|/";
const POSIX: Readonly<Record<string, string>> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7F",
  blank: "\\t ",
  cntrl: "\\x00-\\x1F\\x7F",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`\\{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};
const GO_SPACE = "\\t\\n\\f\\r ";

/**
 * Compile a Go regexp for unanchored matching.
 *
 * @param expr the Go pattern
 * @returns the RegExp, or the reason Go (or this translation) refuses it
 */
export function compileGoRegExp(expr: string): RegExp | string {
  const hit = cache.get(expr);
  if (hit !== undefined) return hit;
  let out: RegExp | string;
  try {
    const t = translate(expr);
    out = typeof t === "string" ? t : new RegExp(t.source, t.flags);
  } catch (e) {
    out = `error parsing regexp: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (cache.size >= REGEXP_CACHE_SIZE) cache.clear();
  cache.set(expr, out);
  return out;
}

/**
 * Go's `regexp.MatchString(expr, value)`.
 *
 * @param expr the Go pattern
 * @param value the text
 * @returns whether it matches anywhere, or the reason the pattern is refused
 */
export function goMatchString(expr: string, value: string): boolean | string {
  const re = compileGoRegExp(expr);
  return typeof re === "string" ? re : re.test(value);
}

interface Translation {
  source: string;
  flags: string;
}

function escapeLiteral(c: string, inClass: boolean): string {
  if (JS_SYNTAX.includes(c) || (inClass && c === "-")) return "\\" + c;
  return c;
}

function hex(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

// A Go \p / \P class name to JS: one-letter and two-letter names are
// general categories, longer ones scripts (Go: "Greek", "Han" …).
function unicodeClass(negated: boolean, name: string): string {
  let neg = negated;
  let n = name;
  if (n.startsWith("^")) {
    neg = !neg;
    n = n.slice(1);
  }
  if (!/^[A-Za-z_]+$/.test(n)) {
    throw new Error(`invalid character class range: \\p{${name}}`);
  }
  const body = n === "Any" ? "Any" : n.length <= 2 ? n : `Script=${n}`;
  return `\\${neg ? "P" : "p"}{${body}}`;
}

function translate(expr: string): Translation | string {
  const cps = Array.from(expr);
  let i = 0;
  let ci = false;
  let multiLine = false;
  let dotAll = false;
  // Leading flag groups: (?i) (?s) (?m) (?is) …
  for (;;) {
    const m = /^\(\?([imsU]+)\)/.exec(cps.slice(i).join(""));
    if (m === null) break;
    if (m[1].includes("U")) return "unsupported flag U (ungreedy)";
    ci ||= m[1].includes("i");
    multiLine ||= m[1].includes("m");
    dotAll ||= m[1].includes("s");
    i += m[0].length;
  }
  let src = "";
  let inClass = false;
  let classStart = false;
  let canRepeat = false;
  while (i < cps.length) {
    const c = cps[i];
    if (inClass) {
      const r = classChar(cps, i, classStart);
      if (typeof r === "string") return r;
      src += r.text;
      i = r.next;
      if (r.closed) {
        inClass = false;
        canRepeat = true;
      }
      classStart = false;
      continue;
    }
    if (c === "\\") {
      const r = escapeOutside(cps, i);
      if (typeof r === "string") return r;
      src += r.text;
      i = r.next;
      canRepeat = r.repeatable;
      continue;
    }
    switch (c) {
      case "[":
        src += "[";
        i++;
        if (cps[i] === "^") {
          src += "^";
          i++;
        }
        inClass = true;
        classStart = true;
        continue;
      case "(": {
        const r = group(cps, i);
        if (typeof r === "string") return r;
        src += r.text;
        i = r.next;
        canRepeat = false;
        continue;
      }
      case ")":
        src += ")";
        break;
      case ".":
        src += dotAll ? "[\\s\\S]" : "[^\\n]";
        break;
      case "^":
        src += multiLine ? "(?<![^\\n])" : "(?<![\\s\\S])";
        i++;
        canRepeat = false;
        continue;
      case "$":
        src += multiLine ? "(?![^\\n])" : "(?![\\s\\S])";
        i++;
        canRepeat = false;
        continue;
      case "{": {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(cps.slice(i).join(""));
        if (m !== null && canRepeat) {
          const lo = Number(m[1]);
          const hi = m[3] === undefined || m[3] === "" ? lo : Number(m[3]);
          if (lo > 1000 || hi > 1000 || hi < lo) {
            return `error parsing regexp: invalid repeat count: ${m[0]}`;
          }
          src += m[0];
          i += m[0].length;
          if (cps[i] === "?") {
            src += "?";
            i++;
          }
          canRepeat = false;
          continue;
        }
        src += "\\{";
        i++;
        canRepeat = true;
        continue;
      }
      case "}":
      case "]":
        src += "\\" + c;
        i++;
        canRepeat = true;
        continue;
      case "*":
      case "+":
      case "?":
        if (!canRepeat) {
          return `error parsing regexp: missing argument to repetition operator: ${c}`;
        }
        src += c;
        i++;
        if (cps[i] === "?") {
          src += "?";
          i++;
        }
        canRepeat = false;
        continue;
      case "|":
        src += "|";
        i++;
        canRepeat = false;
        continue;
      default:
        src += escapeLiteral(c, false);
    }
    i++;
    canRepeat = true;
  }
  if (inClass) return "error parsing regexp: missing closing ]";
  return { source: src, flags: ci ? "iu" : "u" };
}

function group(
  cps: string[],
  i: number,
): { text: string; next: number } | string {
  if (cps[i + 1] !== "?") return { text: "(", next: i + 1 };
  const rest = cps.slice(i).join("");
  if (rest.startsWith("(?:")) return { text: "(?:", next: i + 3 };
  const named = /^\(\?P<([A-Za-z0-9_]+)>/.exec(rest);
  if (named !== null) {
    return { text: `(?<${named[1]}>`, next: i + Array.from(named[0]).length };
  }
  if (/^\(\?[imsU-]+[:)]/.test(rest)) {
    return "unsupported flag group inside the pattern";
  }
  return "error parsing regexp: invalid or unsupported Perl syntax";
}

function escapeOutside(
  cps: string[],
  i: number,
): { text: string; next: number; repeatable: boolean } | string {
  const c = cps[i + 1];
  if (c === undefined) {
    return "error parsing regexp: trailing backslash at end of expression";
  }
  const lit = (text: string, next: number) => ({
    text,
    next,
    repeatable: true,
  });
  switch (c) {
    case "Q": {
      let j = i + 2;
      let text = "";
      while (j < cps.length && !(cps[j] === "\\" && cps[j + 1] === "E")) {
        text += escapeLiteral(cps[j], false);
        j++;
      }
      if (j < cps.length) j += 2;
      return {
        text: text === "" ? "" : `(?:${text})`,
        next: j,
        repeatable: text !== "",
      };
    }
    case "E":
      // A stray \E is ignored by Go.
      return { text: "", next: i + 2, repeatable: false };
    case "A":
      return { text: "(?<![\\s\\S])", next: i + 2, repeatable: false };
    case "z":
      return { text: "(?![\\s\\S])", next: i + 2, repeatable: false };
    case "b":
    case "B":
      return { text: "\\" + c, next: i + 2, repeatable: false };
    case "s":
      return lit(`[${GO_SPACE}]`, i + 2);
    case "S":
      return lit(`[^${GO_SPACE}]`, i + 2);
  }
  const shared = sharedEscape(cps, i);
  if (typeof shared === "string") return shared;
  if (shared !== null) return { ...shared, repeatable: true };
  // Escaped punctuation is a literal in Go.
  if (isPunct(c)) return lit(escapeLiteral(c, false), i + 2);
  return `error parsing regexp: invalid escape sequence: \\${c}`;
}

function isPunct(c: string): boolean {
  return /^[!-/:-@[-`{-~]$/.test(c);
}

// Escapes with the same translation inside and outside a class.
function sharedEscape(
  cps: string[],
  i: number,
): { text: string; next: number } | string | null {
  const c = cps[i + 1];
  switch (c) {
    case "d":
    case "D":
    case "w":
    case "W":
    case "f":
    case "t":
    case "n":
    case "r":
    case "v":
      return { text: "\\" + c, next: i + 2 };
    case "a":
      return { text: "\\x07", next: i + 2 };
    case "x": {
      const rest = cps.slice(i + 2).join("");
      const braced = /^\{([0-9A-Fa-f]{1,8})\}/.exec(rest);
      if (braced !== null) {
        const cp = parseInt(braced[1], 16);
        if (cp > 0x10ffff) {
          return "error parsing regexp: invalid escape sequence: \\x{…}";
        }
        return { text: hex(cp), next: i + 2 + braced[0].length };
      }
      const two = /^[0-9A-Fa-f]{2}/.exec(rest);
      if (two === null) {
        return "error parsing regexp: invalid escape sequence: \\x";
      }
      return { text: hex(parseInt(two[0], 16)), next: i + 4 };
    }
    case "p":
    case "P": {
      const next = cps[i + 2];
      if (next === undefined) {
        return "error parsing regexp: invalid character class range";
      }
      if (next === "{") {
        const end = cps.indexOf("}", i + 3);
        if (end < 0) {
          return "error parsing regexp: invalid character class range";
        }
        const name = cps.slice(i + 3, end).join("");
        try {
          return { text: unicodeClass(c === "P", name), next: end + 1 };
        } catch (e) {
          return `error parsing regexp: ${(e as Error).message}`;
        }
      }
      return { text: unicodeClass(c === "P", next), next: i + 3 };
    }
    case "C":
      return "unsupported escape \\C (any byte)";
  }
  if (c >= "0" && c <= "7") {
    // RE2: a lone non-zero digit is a backreference (refused); \0 or up to
    // three octal digits is a character code.
    const m = /^[0-7]{1,3}/.exec(cps.slice(i + 1, i + 4).join(""));
    const digits = m === null ? c : m[0];
    if (c !== "0" && digits.length === 1) {
      return `error parsing regexp: invalid escape sequence: \\${c}`;
    }
    return { text: hex(parseInt(digits, 8)), next: i + 1 + digits.length };
  }
  return null;
}

function classChar(
  cps: string[],
  i: number,
  first: boolean,
): { text: string; next: number; closed: boolean } | string {
  const c = cps[i];
  if (c === "]" && !first) return { text: "]", next: i + 1, closed: true };
  if (c === "]") return { text: "\\]", next: i + 1, closed: false };
  if (c === "[") {
    const m = /^\[:(\^?)([a-z]+):\]/.exec(cps.slice(i).join(""));
    if (m !== null) {
      if (m[1] === "^") {
        return "unsupported negated POSIX class inside brackets";
      }
      const body = POSIX[m[2]];
      if (body === undefined) {
        return `error parsing regexp: invalid character class range: ${m[0]}`;
      }
      return { text: body, next: i + m[0].length, closed: false };
    }
    return { text: "\\[", next: i + 1, closed: false };
  }
  if (c === "\\") {
    const e = cps[i + 1];
    if (e === undefined) return "error parsing regexp: missing closing ]";
    if (e === "s") return { text: GO_SPACE, next: i + 2, closed: false };
    if (e === "S") return "unsupported \\S inside brackets";
    if (
      e === "Q" || e === "E" || e === "A" || e === "z" || e === "b" || e === "B"
    ) {
      return `error parsing regexp: invalid escape sequence: \\${e}`;
    }
    const shared = sharedEscape(cps, i);
    if (typeof shared === "string") return shared;
    if (shared !== null) return { ...shared, closed: false };
    if (isPunct(e)) {
      return { text: escapeLiteral(e, true), next: i + 2, closed: false };
    }
    return `error parsing regexp: invalid escape sequence: \\${e}`;
  }
  // "-" keeps its range meaning; other JS syntax characters are escaped.
  const text = c !== "-" && JS_SYNTAX.includes(c) ? "\\" + c : c;
  return { text, next: i + 1, closed: false };
}
