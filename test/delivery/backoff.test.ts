import { expect } from 'chai';
import { backoffCeilingMs, backoffPolicy, fullJitterDelayMs } from '../../src/delivery/backoff';

describe('backoff', () => {
  const policy = backoffPolicy({ initialBackoffSeconds: 1, maxBackoffSeconds: 300 });

  it('converts the config seconds to milliseconds', () => {
    expect(policy).to.deep.equal({ initialMs: 1000, maxMs: 300_000 });
    expect(backoffPolicy({ initialBackoffSeconds: 0.25, maxBackoffSeconds: 2 })).to.deep.equal({
      initialMs: 250,
      maxMs: 2000,
    });
  });

  it('doubles the ceiling from the initial backoff after each failed attempt', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => backoffCeilingMs(policy, n))).to.deep.equal([
      1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000,
    ]);
  });

  it('caps the ceiling at the maximum, however many attempts', () => {
    expect(backoffCeilingMs(policy, 10)).to.equal(300_000);
    expect(backoffCeilingMs(policy, 1100)).to.equal(300_000);
    expect(backoffCeilingMs(policy, Number.MAX_SAFE_INTEGER)).to.equal(300_000);
  });

  it('treats attempt counts below 1 as the first attempt', () => {
    expect(backoffCeilingMs(policy, 0)).to.equal(1000);
    expect(backoffCeilingMs(policy, -3)).to.equal(1000);
  });

  it('never exceeds the maximum even when it is below the initial backoff', () => {
    expect(backoffCeilingMs({ initialMs: 5000, maxMs: 2000 }, 1)).to.equal(2000);
  });

  it('is zero, never NaN, when either bound is zero', () => {
    expect(backoffCeilingMs({ initialMs: 0, maxMs: 1000 }, 2000)).to.equal(0);
    expect(backoffCeilingMs({ initialMs: 1000, maxMs: 0 }, 3)).to.equal(0);
  });

  describe('full jitter', () => {
    it('spans the whole window: 0 at the bottom, the ceiling at the top', () => {
      expect(fullJitterDelayMs(policy, 4, () => 0)).to.equal(0);
      expect(fullJitterDelayMs(policy, 4, () => 0.999_999_9)).to.equal(8000);
      expect(fullJitterDelayMs(policy, 4, () => 0.5)).to.equal(4000);
      expect(fullJitterDelayMs(policy, 50, () => 0.5)).to.equal(150_000);
    });

    it('stays within [0, ceiling] whatever the random source returns', () => {
      expect(fullJitterDelayMs(policy, 3, () => -0.5)).to.equal(0);
      expect(fullJitterDelayMs(policy, 3, () => 1.5)).to.equal(4000);
      expect(fullJitterDelayMs(policy, 3, () => Number.NaN)).to.equal(0);
    });

    it('spreads delays over the window rather than bunching them at the ceiling', () => {
      const delays = Array.from({ length: 2000 }, () => fullJitterDelayMs(policy, 6));
      const ceiling = backoffCeilingMs(policy, 6);
      expect(Math.min(...delays)).to.be.at.least(0);
      expect(Math.max(...delays)).to.be.at.most(ceiling);
      // Uniform on [0, 32 s]: each quarter gets about 500 of 2000; 350 is > 8 sigma away.
      const quarters = [0, 0, 0, 0];
      for (const d of delays) quarters[Math.min(3, Math.floor((d / ceiling) * 4))]++;
      for (const q of quarters) expect(q).to.be.above(350);
    });
  });
});
