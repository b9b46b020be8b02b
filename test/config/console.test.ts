import { expect } from 'chai';
import { ConfigError } from '../../src/config/load';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../src/gateway';

const WEBHOOK = 'webhook-token-9f8e7d6c5b4a';
const OPERATOR = 'operator-token-1a2b3c4d5e6f';

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config: console', () => {
  it('is off by default, with no operator and an eight-hour session', () => {
    expect(parseConfig(`tokens: {ci: ${WEBHOOK}}`).console).to.deep.equal({
      enabled: false,
      tokens: {},
      tokensFile: '',
      sessionMinutes: 480,
    });
  });

  it('takes operator tokens from console.tokensFile (a mounted Secret), over console.tokens', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rg-console-tokens-'));
    writeFileSync(path.join(dir, 'operators.yaml'), `bob: ${OPERATOR.replace('1a2b', '9z8y')}\nalice: ${OPERATOR}\n`);
    const configFile = path.join(dir, 'values.yaml');
    writeFileSync(
      configFile,
      `tokens: {ci: ${WEBHOOK}}\nconsole: {enabled: true, tokensFile: operators.yaml, tokens: {alice: replaced-operator-token-00}}`,
    );
    expect(loadConfig(configFile, {}).console.tokens).to.deep.equal({
      alice: OPERATOR,
      bob: OPERATOR.replace('1a2b', '9z8y'),
    });
    writeFileSync(path.join(dir, 'operators.yaml'), `alice: ${WEBHOOK}\n`);
    expect(() => loadConfig(configFile, {})).to.throw('console.tokens.alice has the value of a webhook token');
    writeFileSync(path.join(dir, 'operators.yaml'), `- ${OPERATOR}\n`);
    expect(() => loadConfig(configFile, {})).to.throw('must be a mapping of operator names to tokens');
    expect(() => loadConfig(configFile, {})).to.not.throw(OPERATOR);
  });

  it('takes operator tokens, dropping the ones set to null', () => {
    const config = parseConfig(
      `tokens: {ci: ${WEBHOOK}}\nconsole: {enabled: true, tokens: {alice: ${OPERATOR}, old: null}}`,
    );
    expect(config.console.tokens).to.deep.equal({ alice: OPERATOR });
  });

  it('holds operator tokens to the webhook tokens’ strength rules, never quoting them', () => {
    const found = problems(
      `tokens: {ci: ${WEBHOOK}}\nconsole: {tokens: {short: abc123, placeholder: changeme-changeme-1}}`,
    );
    expect(found).to.include.members([
      'console.tokens.short is shorter than 16 characters: generate one with `openssl rand -hex 32`',
      'console.tokens.placeholder looks like a placeholder, not a token: generate one with `openssl rand -hex 32`',
    ]);
    expect(found.join('\n')).to.not.include('abc123');
  });

  it('refuses an operator token that is also a webhook token, or shared by two operators', () => {
    expect(problems(`tokens: {ci: ${WEBHOOK}}\nconsole: {tokens: {alice: ${WEBHOOK}}}`)).to.deep.equal([
      'console.tokens.alice has the value of a webhook token: operators need a token of their own',
    ]);
    expect(problems(`tokens: {ci: ${WEBHOOK}}\nconsole: {tokens: {a: ${OPERATOR}, b: ${OPERATOR}}}`)).to.deep.equal([
      'console.tokens.a and console.tokens.b have the same value: each must be distinct',
    ]);
  });

  it('refuses a console turned on with no operator who could log in', () => {
    expect(problems(`tokens: {ci: ${WEBHOOK}}\nconsole: {enabled: true}`)).to.deep.equal([
      'console.enabled needs at least one operator token in console.tokens; generate one with `openssl rand -hex 32`',
    ]);
  });
});
