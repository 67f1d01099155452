-- People and SaaS apps (docs/sign-in.md): users who sign in (with a password or at an upstream OpenID
-- provider), the flows oidc-provider serves for them (authorization_code, refresh_token), scope
-- descriptions for the consent page, agent apps, public clients. Nullable columns and constant defaults.

create table users (
  username          text primary key,
  email             text,
  display_name      text,
  password_hash     text,
  source            text not null default 'document' check (source in ('document', 'upstream')),
  content_hash      text,
  disabled_by_document boolean not null default false,
  disabled_by_cli   boolean not null default false,
  disabled_at       timestamptz,
  tokens_not_before timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
comment on table users is 'People who sign in at Mandate. A token whose subject is a user (subject_issuer null, sub = username) is active only while the user is enabled.';
comment on column users.password_hash is 'A PHC string ($argon2id$… or $scrypt$…); never the password. Null: the user signs in upstream only.';
comment on column users.source is 'document: a `kind: User` document; upstream: created at a first upstream sign-in.';
comment on column users.disabled_at is 'Set while the document (spec.disabled) or `mandate user disable` says so, each kept on its own so that neither undoes the other.';
comment on column users.tokens_not_before is 'Set when the user is disabled: tokens issued before it stay inactive once the user is enabled again.';

create table user_identities (
  issuer          text not null,
  upstream_sub    text not null,
  username        text not null references users (username) on delete cascade,
  upstream_iss    text not null,
  created_at      timestamptz not null default now(),
  last_sign_in_at timestamptz not null default now(),
  primary key (upstream_iss, upstream_sub)
);
comment on table user_identities is 'Who a user is at an upstream OpenID provider: the ID token''s iss and sub (OpenID Connect Core §5.7: together the only stable identifier), and the Issuer document it came through.';
create index user_identities_username on user_identities (username);

create table upstream_logins (
  state           text primary key,
  issuer          text not null,
  interaction_uid text not null,
  code_verifier   text not null,
  nonce           text not null,
  expires_at      timestamptz not null
);
comment on table upstream_logins is 'An upstream sign-in in flight: the state sent to the provider, with the PKCE verifier and nonce it must be answered with. Used once.';

alter table issuers add column login jsonb;
comment on column issuers.login is 'Upstream sign-in: {clientId, clientSecret, scopes}; null when the issuer only vouches for subject tokens.';

alter table resources add column scope_descriptions jsonb not null default '{}';
comment on column resources.scope_descriptions is 'Plain-words descriptions of scopes, shown on the consent page: {scope: description}.';

alter table clients add column agent boolean not null default false;
comment on column clients.agent is 'An agent app: people are told so at consent, and their tokens carry may_act naming it (RFC 8693 §4.4).';
alter table clients add column post_logout_redirect_uris text[] not null default '{}';
comment on column clients.post_logout_redirect_uris is 'Where RP-initiated logout may send the person afterwards (OpenID Connect RP-Initiated Logout 1.0 §3).';
alter table clients drop constraint clients_check;
alter table clients add constraint clients_one_authentication check (secret_hash is null or jwks is null);
comment on column clients.secret_hash is 'scrypt$N$r$p$salt$hash of the client secret; null with jwks null: a public client (authorization_code with PKCE only).';

alter table issued_tokens add column grant_id text;
comment on column issued_tokens.grant_id is 'The oidc-provider grant (one sign-in''s consent) a token of authorization_code or refresh_token descends from: reusing a refresh token revokes every token of its grant.';
create index issued_tokens_grant on issued_tokens (grant_id) where grant_id is not null;
