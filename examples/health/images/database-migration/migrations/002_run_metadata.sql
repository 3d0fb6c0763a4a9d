-- Free-form key/value metadata of a run (branch, change, job name, ...).
CREATE TABLE run_metadata (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key VARCHAR(255) NOT NULL,
    value VARCHAR(1024) NOT NULL,
    PRIMARY KEY (run_id, key)
);
