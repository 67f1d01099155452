-- Tasks: units of delegated work whose completion (or expiry) ends every token issued for them and
-- for their subtasks, decided at read time. Plus the append-only audit trail and the outbox of
-- revocation events pushed to resource servers.

create table tasks (
  task_id          uuid primary key,
  client_id        text not null,
  delegator        text not null,
  delegator_issuer text not null,
  purpose          text not null check (length(purpose) between 1 and 1000),
  resources        text[] not null,
  scope            text[] not null,
  policy_paths     text[] not null,
  parent_task_id   uuid references tasks (task_id),
  task_path        uuid[] not null,
  created_at       timestamptz not null,
  expires_at       timestamptz not null,
  completed_at     timestamptz,
  outcome          text check (outcome in ('succeeded', 'failed', 'cancelled')),
  request_id       text
);
comment on column tasks.client_id is 'The agent that runs the task (the client that created it).';
comment on column tasks.delegator is 'The sub of the subject token the task was created with: the person who delegated the work.';
comment on column tasks.task_path is 'Task ids from the root task to this one. Completing any of them completes this one.';
create index tasks_parent on tasks (parent_task_id) where parent_task_id is not null;
create index tasks_path on tasks using gin (task_path);
create index tasks_client on tasks (client_id, created_at);

alter table issued_tokens add column task_path uuid[] not null default '{}';
comment on column issued_tokens.task_path is 'Every task this token depends on (its own task path and its parent token''s): if any is completed or expired, the token is inactive.';
create index issued_tokens_task_path on issued_tokens using gin (task_path);

create table audit_events (
  event_id    bigserial primary key,
  occurred_at timestamptz not null,
  type        text not null,
  actor       text,
  request_id  text,
  subject     text,
  task_id     uuid,
  jti         text,
  decision_id uuid,
  data        jsonb not null default '{}'
);
comment on table audit_events is 'Append-only: updates and deletes are refused by trigger.';
create index audit_events_time on audit_events (occurred_at);
create index audit_events_task on audit_events (task_id) where task_id is not null;

create function refuse_audit_change() returns trigger language plpgsql as $$
begin
  raise exception 'audit_events is append-only';
end
$$;
create trigger audit_events_append_only before update or delete on audit_events
  for each row execute function refuse_audit_change();

alter table resources add column revocation_webhook text;
comment on column resources.revocation_webhook is 'Where a signed Security Event Token (RFC 8417) is POSTed when a task with tokens for this resource completes.';

create table webhook_deliveries (
  delivery_id     uuid primary key,
  resource        text not null,
  url             text not null,
  event           text not null,
  created_at      timestamptz not null,
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null,
  delivered_at    timestamptz,
  failed_at       timestamptz,
  last_error      text
);
comment on column webhook_deliveries.event is 'The signed SET (secevent+jwt) to POST.';
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where delivered_at is null and failed_at is null;
