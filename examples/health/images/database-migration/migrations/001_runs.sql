-- One row per CI test run, as reported by the test runner.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    passed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_started_at ON runs (started_at);
