import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { PROVIDERS } from '../../src/providers';
import { inbound, parseContext } from '../helpers/context';
import { eventsOf, onlyEvent, rejection } from '../helpers/outcome';

const ecr = PROVIDERS.find((p) => p.name === 'ecr')!;
const PUSH = JSON.parse(
  readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'payloads', 'ecr-image-push.json'), 'utf8'),
) as { detail: Record<string, unknown> } & Record<string, unknown>;
const DIGEST = PUSH.detail['image-digest'] as string;
const parse = (body: unknown) => ecr.parse(inbound(body), parseContext('ecr'));

describe('providers/ecr', () => {
  it('PUSH SUCCESS is a push from <account>.dkr.ecr.<region>.amazonaws.com, id from EventBridge', () => {
    expect(onlyEvent(parse(PUSH))).to.include({
      id: '13cde686-328b-6117-af20-0e5566167482',
      type: 'push',
      registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      repo: 'team/web',
      tag: 'v1.4.2',
      digest: DIGEST,
      time: '2026-11-20T09:15:02Z',
    });
  });

  it('DELETE SUCCESS is a delete; a FAILURE is ignored', () => {
    expect(onlyEvent(parse({ ...PUSH, detail: { ...PUSH.detail, 'action-type': 'DELETE' } })).type).to.equal('delete');
    expect(parse({ ...PUSH, detail: { ...PUSH.detail, result: 'FAILURE' } })).to.deep.equal({
      kind: 'ignored',
      reason: 'ECR image PUSH with result "FAILURE"',
    });
  });

  it('China regions are under amazonaws.com.cn', () => {
    expect(onlyEvent(parse({ ...PUSH, region: 'cn-north-1' })).registry).to.equal(
      '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn',
    );
  });

  it('a finished scan of an image with two tags: one scan_completed per tag, ids kept apart', () => {
    const scan = {
      ...PUSH,
      'detail-type': 'ECR Image Scan',
      detail: {
        'scan-status': 'COMPLETE',
        'repository-name': 'team/web',
        'image-digest': DIGEST,
        'image-tags': ['v1', 'latest'],
      },
    };
    expect(eventsOf(parse(scan)).map(({ id, type, tag }) => ({ id, type, tag }))).to.deep.equal([
      { id: '13cde686-328b-6117-af20-0e5566167482-t0', type: 'scan_completed', tag: 'v1' },
      { id: '13cde686-328b-6117-af20-0e5566167482-t1', type: 'scan_completed', tag: 'latest' },
    ]);
    const failed = { ...scan, detail: { ...scan.detail, 'scan-status': 'FAILED', 'image-tags': [] } };
    expect(onlyEvent(parse(failed)))
      .to.include({ type: 'scan_failed' })
      .and.not.have.property('tag');
  });

  it('400 naming an account or region that cannot make a registry name', () => {
    expect(rejection(() => parse({ ...PUSH, account: '12345', region: 'mars' }))).to.deep.equal([
      'account "12345" is not a 12-digit AWS account id',
      'region "mars" is not an AWS region',
    ]);
  });

  it('ignores events from other sources', () => {
    expect(parse({ ...PUSH, source: 'aws.inspector2' })).to.deep.equal({
      kind: 'ignored',
      reason: 'EventBridge source "aws.inspector2" is not aws.ecr',
    });
  });
});
