import { expect } from 'chai';
import { CommitGroup, type AcceptCall, type CallOutcome } from '../../../src/delivery/store/commit-group';
import { makeEvent } from '../support';

/** A commit that stays open until released, recording the size of each group it was given. */
function heldCommits() {
  const groups: number[] = [];
  const open: (() => void)[] = [];
  const commit = (calls: AcceptCall[]): Promise<CallOutcome[]> => {
    groups.push(calls.length);
    return new Promise((resolve) =>
      open.push(() => resolve(calls.map((call) => call.map(({ event }) => ({ event, duplicate: false }))))),
    );
  };
  return { groups, open, commit };
}

const accept = (group: CommitGroup, id: string) => group.add([{ event: makeEvent(id), emitters: ['log'] }]);
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('commit group', () => {
  it('gathers the calls made while its commits are in flight into the next group', async () => {
    const { groups, open, commit } = heldCommits();
    const group = new CommitGroup(commit, (err) => err as Error, undefined, undefined, 1);
    const first = accept(group, 'a');
    await turn();
    expect(groups).to.deep.equal([1]);
    const waiting = ['b', 'c', 'd'].map((id) => accept(group, id));
    await turn();
    await turn();
    // Still one commit: the three wait for it rather than each starting their own.
    expect(groups).to.deep.equal([1]);
    open.shift()!();
    expect((await first)[0].event.id).to.equal('a');
    await turn();
    await turn();
    expect(groups).to.deep.equal([1, 3]);
    open.shift()!();
    expect((await Promise.all(waiting)).map(([r]) => r.event.id)).to.deep.equal(['b', 'c', 'd']);
  });

  it('without a limit, starts a commit for every loop turn', async () => {
    const { groups, open, commit } = heldCommits();
    const group = new CommitGroup(commit, (err) => err as Error);
    const calls = [accept(group, 'a')];
    await turn();
    calls.push(accept(group, 'b'));
    await turn();
    expect(groups).to.deep.equal([1, 1]);
    open.forEach((release) => release());
    await Promise.all(calls);
  });

  it('drains the calls held back by the limit too', async () => {
    const { groups, open, commit } = heldCommits();
    const group = new CommitGroup(commit, (err) => err as Error, undefined, undefined, 1);
    const calls = [accept(group, 'a')];
    await turn();
    calls.push(accept(group, 'b'), accept(group, 'c'));
    let drained = false;
    const draining = group.drain().then(() => (drained = true));
    // Each commit is let go as it arrives.
    while (!drained) {
      await turn();
      open.splice(0).forEach((release) => release());
    }
    await draining;
    expect(groups).to.deep.equal([1, 2]);
    expect((await Promise.all(calls)).map(([r]) => r.event.id)).to.deep.equal(['a', 'b', 'c']);
    await group.add([{ event: makeEvent('late'), emitters: ['log'] }]).then(
      () => expect.fail('a drained group takes nothing new'),
      (err: Error) => expect(err.message).to.match(/shutting down/),
    );
  });
});
