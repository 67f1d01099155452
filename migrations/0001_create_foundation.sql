-- Mandate's foundation: clients, resources, signing keys, the lineage of every issued access
-- token, and oidc-provider's own short-lived artefacts. Forward-only; never edit once merged.

create table clients (
  client_id     text primary key,
  description   text,
  labels        jsonb not null default '{}',
  profile       text not null check (profile in ('agent', 'service', 'app', 'resource-server')),
  secret_hash   text,
  jwks          jsonb,
  grant_types   text[] not null default '{}',
  redirect_uris text[] not null default '{}',
  scopes        text[] not null default '{}',
  content_hash  text not null,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  check ((secret_hash is null) <> (jwks is null))
);
comment on column clients.secret_hash is 'scrypt$N$r$p$salt$hash of the client secret; the secret itself is never stored.';
comment on column clients.jwks is 'Public keys for private_key_jwt client authentication (RFC 7523).';
comment on column clients.content_hash is 'SHA-256 of the applied document; an unchanged document re-applied writes nothing.';

create table resources (
  name                  text primary key,
  uri                   text not null unique,
  description           text,
  labels                jsonb not null default '{}',
  scopes                text[] not null default '{}',
  introspectors         text[] not null default '{}',
  access_token_lifetime integer not null check (access_token_lifetime > 0),
  content_hash          text not null,
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now()
);
comment on column resources.uri is 'RFC 8707 resource indicator; the aud of every token issued for this resource.';
comment on column resources.introspectors is 'client_ids allowed to introspect tokens whose aud is this resource (RFC 7662 §4).';
comment on column resources.access_token_lifetime is 'Seconds; the ceiling of every access token issued for this resource.';

create table signing_keys (
  kid                text primary key,
  alg                text not null,
  public_jwk         jsonb not null,
  private_jwk_sealed text not null,
  created_at         timestamptz not null default now(),
  activates_at       timestamptz not null
);
comment on table signing_keys is
  'A key is pending (published, not signing) until activates_at, active until a newer key activates, then retired: published while any token it signed is unexpired.';
comment on column signing_keys.private_jwk_sealed is 'AES-256-GCM sealed private JWK (see src/keys/envelope.ts); opened only with MANDATE_MASTER_KEY.';
create index signing_keys_activates_at on signing_keys (activates_at);

create table issued_tokens (
  jti         text primary key,
  kid         text not null references signing_keys (kid),
  grant_type  text not null,
  client_id   text not null,
  sub         text not null,
  aud         text not null,
  scope       text[] not null default '{}',
  issued_at   timestamptz not null,
  expires_at  timestamptz not null,
  revoked_at  timestamptz,
  parent_jti  text references issued_tokens (jti),
  ancestors   text[] not null default '{}',
  claims      jsonb not null default '{}'
);
comment on table issued_tokens is
  'One row per access token, written before the token leaves the server. Activity is decided when read: unexpired, not revoked, no revoked ancestor.';
comment on column issued_tokens.parent_jti is 'The subject token this one was exchanged from (RFC 8693); null for a root token.';
comment on column issued_tokens.ancestors is 'jtis from the root to the parent, never updated: a revoked ancestor makes this token inactive.';
comment on column issued_tokens.claims is 'Claims beyond the RFC 9068 set (act, task_id, policy_path …), returned by introspection.';
create index issued_tokens_parent on issued_tokens (parent_jti) where parent_jti is not null;
create index issued_tokens_kid_expiry on issued_tokens (kid, expires_at);
create index issued_tokens_client on issued_tokens (client_id, issued_at);

create table oidc_payloads (
  model       text not null,
  id          text not null,
  payload     jsonb not null,
  grant_id    text,
  user_code   text,
  uid         text,
  expires_at  timestamptz,
  consumed_at timestamptz,
  primary key (model, id)
);
comment on table oidc_payloads is 'oidc-provider artefacts other than our JWT access tokens (replay detection, future grants and sessions).';
create index oidc_payloads_grant on oidc_payloads (grant_id) where grant_id is not null;
create index oidc_payloads_user_code on oidc_payloads (user_code) where user_code is not null;
create index oidc_payloads_uid on oidc_payloads (uid) where uid is not null;
create index oidc_payloads_expiry on oidc_payloads (expires_at) where expires_at is not null;
