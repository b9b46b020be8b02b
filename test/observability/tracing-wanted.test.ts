import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { tracingWanted } from '../../src/observability/tracing-wanted';
import { tempDir } from '../helpers/gateway-process';

function valuesFile(text: string): string {
  const file = path.join(tempDir(), 'values.yaml');
  writeFileSync(file, text);
  return file;
}

describe('tracingWanted: whether serve starts the OpenTelemetry SDK', () => {
  const on = valuesFile('tokens: {ci: x}\ntracing: {enabled: true}\n');
  const off = valuesFile('tokens: {ci: x}\n');
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

  it('is off by default, and on with tracing.enabled in the values file', () => {
    expect(tracingWanted(['serve', '--config', off], {})).to.equal(false);
    expect(tracingWanted(['serve', '--config', on], {})).to.equal(true);
    expect(tracingWanted(['serve', '-c', on], {})).to.equal(true);
    expect(tracingWanted([`--config=${on}`, 'serve'], {})).to.equal(true);
  });

  it('is on when an OTLP endpoint is in the environment, for traces or for every signal', () => {
    expect(tracingWanted(['serve', '--config', off], endpoint)).to.equal(true);
    expect(
      tracingWanted(['serve', '--config', off], { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }),
    ).to.equal(true);
    expect(tracingWanted(['serve', '--config', off], { OTEL_EXPORTER_OTLP_ENDPOINT: '' })).to.equal(false);
  });

  it('is off with OTEL_SDK_DISABLED=true whatever else says on', () => {
    expect(tracingWanted(['serve', '--config', on], { ...endpoint, OTEL_SDK_DISABLED: 'true' })).to.equal(false);
    expect(tracingWanted(['serve', '--config', on], { OTEL_SDK_DISABLED: ' TRUE ' })).to.equal(false);
    expect(tracingWanted(['serve', '--config', on], { OTEL_SDK_DISABLED: 'false' })).to.equal(true);
  });

  it('is off for the other commands, and when the values file cannot be read (the loader reports that)', () => {
    expect(tracingWanted(['deliveries', 'list', '--config', on], endpoint)).to.equal(false);
    expect(tracingWanted(['validate', '--config', on], {})).to.equal(false);
    expect(tracingWanted(['serve', '--config', path.join(tempDir(), 'missing.yaml')], {})).to.equal(false);
    expect(tracingWanted(['serve', '--config', valuesFile('tracing: [unclosed')], {})).to.equal(false);
  });
});
