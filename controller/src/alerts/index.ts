// Fleet alerts (`@launchfleet/controller/alerts`): the rules and their settings, the evaluator, and
// the reference evaluator it is checked against.
export * from './core/alert-rules.ts';
export * from './core/alert-evaluator.ts';
export * from './core/alert-evaluator-reference.ts';
