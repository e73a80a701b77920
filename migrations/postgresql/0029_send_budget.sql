-- Twin of migrations/0029_send_budget.sql: the workers' one sending budget (issue 15, part 3).
CREATE TABLE send_budget (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    next_at DOUBLE PRECISION NOT NULL
);

INSERT INTO send_budget (id, next_at) VALUES (1, 0);
