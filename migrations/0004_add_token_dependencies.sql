-- A token minted with an actor_token (RFC 8693 §2.1) depends on it as much as on its subject token:
-- revoking the actor token (or anything it depends on), or ending a task it belongs to, ends the
-- minted token too, decided at read time. `ancestors` stays the parent chain (the lineage tree);
-- `depends_on` holds the other tokens whose revocation ends this one (actor tokens, their chains, and
-- what the parent depended on that way). Activity reads both, so rows written without depends_on
-- (before this migration, or by a process of the previous release during a rolling deploy) keep
-- exactly the rule they had. The actor token's tasks are merged into task_path.
--
-- Both columns are added with constant defaults and no backfill or constraint check: a metadata-only
-- change, so the brief exclusive lock does not grow with the table.

alter table issued_tokens add column actor_jti text;
comment on column issued_tokens.actor_jti is 'The actor_token presented at the exchange (null when none).';

alter table issued_tokens add column depends_on text[] not null default '{}';
comment on column issued_tokens.depends_on is 'Besides ancestors, every jti whose revocation makes this token inactive: actor tokens with their ancestors and dependencies. Never updated.';
