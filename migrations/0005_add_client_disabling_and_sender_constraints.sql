-- Hardening (issue 8): a client can be disabled, which refuses its authentication and ends, at read
-- time, every token it holds or acts in; access tokens may be bound to a DPoP key (RFC 9449).
--
-- Every column is added with a constant default (or none) and no backfill: metadata-only changes,
-- so the brief exclusive lock does not grow with the tables. Rows written before this migration have
-- empty `parties`; the activity rule then still covers their holder (client_id).

alter table clients
  add column disabled_by_document boolean not null default false,
  add column disabled_by_cli boolean not null default false,
  add column disabled_at timestamptz,
  add column tokens_not_before timestamptz,
  add column dpop_bound_access_tokens boolean not null default false;
comment on column clients.disabled_by_document is 'The applied document says spec.disabled: true.';
comment on column clients.disabled_by_cli is 'mandate client disable was run (only mandate client enable clears it).';
comment on column clients.disabled_at is 'Since when the client is disabled (by its document or the CLI; null: enabled). A disabled client cannot authenticate, and no token it holds or acts in is active.';
comment on column clients.tokens_not_before is 'Set (database clock) whenever the client is disabled or enabled: tokens naming it among their parties and issued at or before it are inactive, so enabling a client never revives a token.';
comment on column clients.dpop_bound_access_tokens is 'RFC 9449 §5.2: every token request of this client must carry a DPoP proof.';

alter table issued_tokens
  add column parties text[] not null default '{}',
  add column jkt text;
comment on column issued_tokens.parties is 'Every client whose disabling ends this token: its holder, the actors of its act chain, and the parties of the tokens it was exchanged from (subject and actor tokens).';
comment on column issued_tokens.jkt is 'RFC 9449 §6: the JWK SHA-256 thumbprint the token is bound to (cnf.jkt); null for a bearer token.';

-- Fail closed on missing facts: a trusted issuer's token without a scope claim grants nothing, unless
-- its Issuer document says its tokens without scope get the policy path's ceiling.
alter table issuers add column tokens_without_scope text not null default 'none'
  check (tokens_without_scope in ('none', 'policyCeiling'));
comment on column issuers.tokens_without_scope is 'none: a token without a scope claim grants nothing; policyCeiling: it is bounded by the policy path alone.';
