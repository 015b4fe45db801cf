import { afterEach, describe, expect, it, vi } from 'vitest';
import { Emitter } from '../../client/events.ts';

interface Events {
  n: number;
  s: string;
}

describe('Emitter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers payloads to listeners in order and unsubscribes', () => {
    const emitter = new Emitter<Events>();
    const seen: string[] = [];
    const off = emitter.on('n', (n) => seen.push(`a${n}`));
    emitter.on('n', (n) => seen.push(`b${n}`));
    expect(emitter.emit('n', 1)).toBe(true);
    off();
    emitter.emit('n', 2);
    expect(seen).toEqual(['a1', 'b1', 'b2']);
    expect(emitter.emit('s', 'nobody listens')).toBe(false);
  });

  it('once() resolves with the first payload matching the predicate and then unsubscribes', async () => {
    const emitter = new Emitter<Events>();
    const waiting = emitter.once('n', (n) => n > 2);
    emitter.emit('n', 1);
    emitter.emit('n', 3);
    emitter.emit('n', 4);
    await expect(waiting).resolves.toBe(3);
    expect(emitter.listenerCount('n')).toBe(0);
  });

  it('once() rejects after timeoutMs', async () => {
    vi.useFakeTimers();
    const emitter = new Emitter<Events>();
    const waiting = emitter.once('s', undefined, { timeoutMs: 100 });
    vi.advanceTimersByTime(100);
    await expect(waiting).rejects.toThrow(/Timed out after 100 ms/);
    expect(emitter.listenerCount('s')).toBe(0);
  });

  it('a throwing listener does not stop the others and is reported to onListenerError', () => {
    const errors: unknown[] = [];
    const emitter = new Emitter<Events>({ onListenerError: (error) => errors.push(error) });
    const seen: number[] = [];
    emitter.on('n', () => {
      throw new Error('boom');
    });
    emitter.on('n', (n) => seen.push(n));
    emitter.emit('n', 7);
    expect(seen).toEqual([7]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('boom');
  });
});
