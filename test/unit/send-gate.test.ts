/** SendGate: a device's later sends wait behind its rate-limited one, until it passes or is given up. */
import { describe, expect, it } from 'vitest';
import { SendGate } from '../../durable-objects/mailbox/send-gate.ts';

describe('SendGate', () => {
  it('lets everything through until a send is refused', () => {
    const gate = new SendGate(30_000);
    expect(gate.waitBehind('d1', 'a', 0)).toBeNull();
  });

  it('holds the device’s other sends behind the refused one, not the refused one itself, nor other devices', () => {
    const gate = new SendGate(30_000);
    gate.refused('d1', 'm1', 200, 1_000);
    expect(gate.waitBehind('d1', 'm2', 1_050)).toBe(150);
    // Past its retry time the refused one still goes first: the others wait at least 1 ms more.
    expect(gate.waitBehind('d1', 'm2', 1_500)).toBe(1);
    expect(gate.waitBehind('d1', 'm1', 1_050)).toBeNull();
    expect(gate.waitBehind('d2', 'x', 1_050)).toBeNull();
    // A later refusal of another send does not move the one in front.
    gate.refused('d1', 'm2', 500, 1_100);
    expect(gate.waitBehind('d1', 'm3', 1_100)).toBe(100);
    gate.passed('d1', 'm1');
    expect(gate.waitBehind('d1', 'm2', 1_300)).toBeNull();
  });

  it('gives up on a refused send the device never sent again, after the grace period', () => {
    const gate = new SendGate(30_000);
    gate.refused('d1', 'm1', 200, 0);
    expect(gate.waitBehind('d1', 'm2', 30_199)).toBe(1);
    expect(gate.waitBehind('d1', 'm2', 30_200)).toBeNull();
  });

  it('a refused send refused again moves its own retry time', () => {
    const gate = new SendGate(30_000);
    gate.refused('d1', 'm1', 200, 0);
    gate.refused('d1', 'm1', 200, 100);
    expect(gate.waitBehind('d1', 'm2', 100)).toBe(200);
  });
});
