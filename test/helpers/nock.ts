import nock from 'nock';

// Loading nock patches Node's HTTP client for the whole process (and under it pooled keep-alive
// sockets are not reused), so it is switched off at once and on only around the suites using it.
nock.restore();

/** Call inside a `describe`: nock intercepts only while that suite runs. */
export function interceptHttpDuringSuite(): void {
  before(() => {
    if (!nock.isActive()) nock.activate();
  });
  after(() => {
    nock.cleanAll();
    nock.restore();
  });
}

export { nock };
