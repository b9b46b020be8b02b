'use strict';
// Mocha's spec output, closed by the plain "N passed, N failed, N skipped" line that CI reads.
const { Spec } = require('mocha').reporters;

class SpecWithTally extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const { passes, failures, pending } = this.stats;
      process.stdout.write(`${passes} passed, ${failures} failed, ${pending} skipped\n`);
    });
  }
}

module.exports = SpecWithTally;
