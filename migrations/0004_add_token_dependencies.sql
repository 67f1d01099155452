-- A token minted with an actor_token (RFC 8693 §2.1) depends on it as much as on its subject token:
-- revoking the actor token (or anything it depends on), or ending a task it belongs to, ends the
-- minted token too, decided at read time. `ancestors` stays the parent chain (the lineage tree);
-- `depends_on` is every token whose revocation ends this one: the ancestors, the actor token, and
-- whatever those depend on. The actor token's tasks are merged into task_path the same way.

alter table issued_tokens add column actor_jti text references issued_tokens (jti);
comment on column issued_tokens.actor_jti is 'The actor_token presented at the exchange (null when none).';

alter table issued_tokens add column depends_on text[] not null default '{}';
comment on column issued_tokens.depends_on is 'Every jti whose revocation makes this token inactive: ancestors, the actor token, and their own dependencies. Never updated.';
update issued_tokens set depends_on = ancestors where ancestors <> '{}';
