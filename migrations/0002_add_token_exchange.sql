-- Token exchange (RFC 8693): versioned policy paths and their bindings, trusted foreign issuers,
-- the decision record of every exchange, and the lineage columns exchanged tokens need.

create table policy_path_versions (
  path         text not null,
  version      integer not null check (version > 0),
  document     jsonb not null,
  content_hash text not null,
  created_at   timestamptz not null default now(),
  primary key (path, version)
);
comment on table policy_path_versions is 'Immutable: every applied change of a path is a new version; an unchanged document creates none.';

create table policy_bindings (
  client_id  text not null,
  resource   text not null,
  grant_type text not null,
  path       text not null,
  primary key (client_id, resource, grant_type)
);
comment on table policy_bindings is 'Each (client, resource, grant type) triple is governed by at most one policy path; an unbound triple gets nothing.';
create index policy_bindings_path on policy_bindings (path);

create table issuers (
  name         text primary key,
  issuer       text not null unique,
  jwks_uri     text,
  jwks         jsonb,
  algorithms   text[] not null,
  audience     text,
  description  text,
  labels       jsonb not null default '{}',
  content_hash text not null,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  check ((jwks_uri is null) <> (jwks is null))
);
comment on table issuers is 'Trusted foreign issuers whose JWTs may be presented as subject tokens.';

create table decisions (
  decision_id     uuid primary key,
  created_at      timestamptz not null,
  request_id      text,
  grant_type      text not null,
  client_id       text,
  subject         text,
  subject_issuer  text,
  subject_ref     text,
  actor_chain     text[] not null default '{}',
  resources       text[] not null default '{}',
  requested_scope text[],
  granted_scope   text[],
  policy_path     text,
  policy_version  integer,
  policy_versions jsonb,
  task_id         text,
  result          text not null check (result in ('allow', 'deny')),
  reason          text not null,
  detail          text,
  issued_jti      text
);
comment on table decisions is 'Every token exchange, allowed or denied, with its stable reason code. Never updated.';
comment on column decisions.actor_chain is 'Actors of the issued (or requested) token, current actor first (RFC 8693 §4.1 order).';
comment on column decisions.detail is 'The precise cause of a denial; for operators only, never sent to the client.';
create index decisions_client on decisions (client_id, created_at);
create index decisions_subject on decisions (subject, created_at);
create index decisions_task on decisions (task_id, created_at) where task_id is not null;

alter table issued_tokens alter column aud type text[] using array[aud];
alter table issued_tokens
  add column subject_issuer text,
  add column subject_ref    text,
  add column act            jsonb,
  add column task_id        text,
  add column policy_path    text,
  add column policy_version integer,
  add column decision_id    uuid;
comment on column issued_tokens.aud is 'Audiences: one resource indicator, or several when one exchange targeted several resources of one policy path.';
comment on column issued_tokens.subject_issuer is 'For a token exchanged from a foreign token: the trusted issuer; parent_jti is null then.';
comment on column issued_tokens.subject_ref is 'For a foreign subject token: its jti, or the SHA-256 of the token when it has none.';
create index issued_tokens_task on issued_tokens (task_id) where task_id is not null;
