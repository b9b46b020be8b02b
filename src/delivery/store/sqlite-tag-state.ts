import type Database from 'better-sqlite3';
import type { PreparedEvent } from './commit-group';
import { annotate, tagChangeOf, tagStep } from './tag-state';

/**
 * The tag state on SQLite, run inside the accept transaction. One process writes the file, and
 * SQLite runs one write transaction at a time, so reading the previous digest and writing the
 * new one cannot interleave with another push of the same tag.
 */
export class SqliteTagState {
  private readonly previous: Database.Statement<[string, string, string], { digest: string }>;
  private readonly remember: Database.Statement<[string, string, string, string, number]>;
  private readonly untag: Database.Statement<[string, string, string]>;
  private readonly forgetDigest: Database.Statement<[string, string, string]>;
  private readonly tagOfDigest: Database.Statement<[string, string, string], { tag: string }>;

  constructor(db: Database.Database) {
    this.previous = db.prepare('SELECT digest FROM tag_state WHERE registry = ? AND repo = ? AND tag = ?');
    this.remember = db.prepare(
      `INSERT INTO tag_state (registry, repo, tag, digest, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (registry, repo, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
    );
    this.untag = db.prepare('DELETE FROM tag_state WHERE registry = ? AND repo = ? AND tag = ?');
    this.forgetDigest = db.prepare('DELETE FROM tag_state WHERE registry = ? AND repo = ? AND digest = ?');
    this.tagOfDigest = db.prepare(
      `SELECT tag FROM tag_state WHERE registry = ? AND repo = ? AND digest = ?
        ORDER BY updated_at DESC, tag LIMIT 1`,
    );
  }

  /** Applies one fresh event, in accept order, and writes what it learnt into the event. */
  apply(prepared: PreparedEvent, now: number): void {
    const step = tagStep(prepared.event);
    if (!step) return;
    switch (step.op) {
      case 'push': {
        const previous = this.previous.get(step.registry, step.repo, step.tag)?.digest;
        this.remember.run(step.registry, step.repo, step.tag, step.digest, now);
        annotate(prepared, tagChangeOf(previous, step.digest));
        return;
      }
      case 'untag':
        this.untag.run(step.registry, step.repo, step.tag);
        return;
      case 'forget-digest':
        this.forgetDigest.run(step.registry, step.repo, step.digest);
        return;
      case 'subject': {
        const tag = this.tagOfDigest.get(step.registry, step.repo, step.digest)?.tag;
        if (tag !== undefined) annotate(prepared, { subject: { ...prepared.event.subject!, tag } });
        return;
      }
    }
  }
}
