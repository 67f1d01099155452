-- Runtime authorization (AuthZEN evaluations, docs/runtime-authorization.md): a task's declared actions,
-- evaluations as decision records, approvals by the delegating person, and per-rule rate counters.
-- Nullable columns and constant defaults only: no existing row is rewritten.
alter table tasks add column actions text[];
comment on column tasks.actions is 'The actions the agent declared for this task (names or prefix patterns); null when none were declared.';

alter table decisions alter column grant_type drop not null;
alter table decisions
  add column kind      text not null default 'issuance' check (kind in ('issuance', 'evaluation')),
  add column action    text,
  add column object_id text,
  add column caller_id text,
  add column approval_id uuid;
comment on column decisions.kind is 'issuance: a token exchange (grant_type set); evaluation: an AuthZEN evaluation of an action (grant_type null).';
comment on column decisions.action is 'Evaluations: the action evaluated (AuthZEN action.name).';
comment on column decisions.object_id is 'Evaluations: the object acted on (AuthZEN resource.id); resources holds the Resource URI.';
comment on column decisions.caller_id is 'Evaluations: the client that asked (the resource server); client_id is the token holder.';
comment on column decisions.approval_id is 'Evaluations: the approval this evaluation requested or used.';

alter table clients add column approval_webhook text;
comment on column clients.approval_webhook is 'Where approval requests for this agent''s actions are announced (a signed SET, as task completions are to resources), so the product can ask the person.';

create table approvals (
  approval_id      uuid primary key,
  created_at       timestamptz not null,
  expires_at       timestamptz not null,
  task_id          uuid references tasks (task_id),
  token_jti        text not null,
  holder           text not null,
  delegator        text not null,
  delegator_issuer text not null,
  actor_chain      text[] not null default '{}',
  resource         text not null,
  object_id        text not null default '',
  action           text not null,
  status           text not null default 'pending' check (status in ('pending', 'approved', 'denied', 'used')),
  decided_at       timestamptz,
  decided_by       text,
  used_at          timestamptz,
  decision_id      uuid not null,
  used_decision_id uuid
);
comment on table approvals is 'A person''s approval of one action of an agent on one object, requested by an evaluation; used once.';
comment on column approvals.token_jti is 'The token evaluated when the approval was requested (its task, or its holder and subject without one, scope the approval).';
comment on column approvals.object_id is 'AuthZEN resource.id; the empty string when the evaluation named no object.';
create index approvals_open on approvals (holder, action, resource, object_id, created_at) where status in ('pending', 'approved');
create index approvals_task on approvals (task_id, created_at) where task_id is not null;
create index approvals_delegator on approvals (delegator, created_at);

-- GCRA (the generic cell rate algorithm): one row per rule and counting key; an evaluation is allowed when the
-- theoretical arrival time, less the burst, is not in the future, and moves it by one emission interval.
create table action_rates (
  rate_key text primary key,
  tat      timestamptz not null
);
comment on table action_rates is 'Per action rule and task (or holder and subject): the GCRA theoretical arrival time of the next allowed evaluation.';
create index action_rates_tat on action_rates (tat);
