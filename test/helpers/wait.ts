/**
 * Polls until `check` returns a truthy value and resolves with it. `what` names the condition in
 * the timeout error, with the last error `check` threw, if any. Generous by default: tests assert
 * what happens, not how fast, so a loaded CI machine only makes them slower, never red.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  // Quick for in-process conditions, then no more than 20 looks a second at a gateway's endpoints.
  let pauseMs = 5;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    pauseMs = Math.min(50, pauseMs * 2);
  }
  const cause = last instanceof Error ? ` (last error: ${last.message})` : '';
  throw new Error(`timed out waiting for ${what}${cause}`);
}
