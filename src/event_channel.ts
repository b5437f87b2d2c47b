/**
 * A bounded event buffer read as an async iterator. When the reader is slow
 * and the buffer is full, the oldest event is dropped and counted: a
 * stalled consumer must never grow memory without bound.
 *
 * @module
 */

/** A bounded single-consumer queue of events. */
export class EventChannel<T> {
  readonly #max: number;
  readonly #queue: T[] = [];
  #waiter: ((r: IteratorResult<T>) => void) | undefined;
  #closed = false;
  /** Events dropped because the buffer was full. */
  dropped = 0;

  /** @param max the most events held before the oldest is dropped */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(
        `Invalid event buffer size ${max}: must be a whole number ≥ 1`,
      );
    }
    this.#max = max;
  }

  /** Deliver an event (drops the oldest when full). */
  push(e: T): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w({ value: e, done: false });
      return;
    }
    if (this.#queue.length >= this.#max) {
      this.#queue.shift();
      this.dropped++;
    }
    this.#queue.push(e);
  }

  /** End the stream; a waiting reader finishes. */
  close(): void {
    this.#closed = true;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.({ value: undefined, done: true });
  }

  /** Read events until {@linkcode EventChannel.close}. */
  iterate(): AsyncIterableIterator<T> {
    const next = (): Promise<IteratorResult<T>> => {
      const e = this.#queue.shift();
      if (e !== undefined) return Promise.resolve({ value: e, done: false });
      if (this.#closed) {
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve) => (this.#waiter = resolve));
    };
    const it: AsyncIterableIterator<T> = {
      next,
      return: (): Promise<IteratorResult<T>> => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }
}
