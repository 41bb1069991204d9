/**
 * Test helpers for packages that test against the real MariaDB (`@voip/storage/testing`): kept
 * out of the main entry so no service pulls kamdbctl plumbing into its run-time graph.
 */
export * from './mysql-test-database.js';
