-- Administrators among people (issue 13, the admin console): a user's roles, from their User document
-- (spec.roles), and the console's sessions on the admin port (docs/admin-console.md). The role is read
-- with every console request, so removing it (or disabling the user) ends their access at once.

alter table users add column roles text[] not null default '{}';
comment on column users.roles is 'Roles from the User document (spec.roles); mandate:admin opens the admin console. Never a token scope.';

create table admin_console_sessions (
  id_hash       text primary key,
  username      text references users (username) on delete cascade,
  state         text,
  code_verifier text,
  nonce         text,
  created_at    timestamptz not null default now(),
  expires_at    timestamptz not null,
  check ((username is null) = (state is not null))
);
comment on table admin_console_sessions is 'The admin console''s sign-ins in flight (username null: the state, PKCE verifier and nonce of the authorization request) and its sessions (username set). Keyed by the SHA-256 of the cookie value, so a database read gives no cookie.';
create index admin_console_sessions_expires_at on admin_console_sessions (expires_at);
