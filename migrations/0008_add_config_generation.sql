-- The configuration's generation: one number that every change to what decides a request (clients,
-- resources, trusted issuers, policy paths and their bindings) moves, in the changing transaction, by
-- trigger — so no writer (apply, the CLI, the admin bootstrap, a hand edit) can forget it. A process keeps
-- the configuration in memory and reads this one number with each request: a change is in force on every
-- process as soon as the change commits, with no stale window (src/catalog/).
create table config_generation (
  singleton  boolean primary key default true check (singleton),
  generation bigint not null default 1
);
insert into config_generation default values;
comment on table config_generation is 'One row: moved by trigger on every change of clients, resources, issuers, policy_path_versions and policy_bindings.';

create function bump_config_generation() returns trigger language plpgsql as $$
begin
  update config_generation set generation = generation + 1;
  return null;
end $$;

create trigger clients_generation after insert or update or delete or truncate on clients
  for each statement execute function bump_config_generation();
create trigger resources_generation after insert or update or delete or truncate on resources
  for each statement execute function bump_config_generation();
create trigger issuers_generation after insert or update or delete or truncate on issuers
  for each statement execute function bump_config_generation();
create trigger policy_path_versions_generation after insert or update or delete or truncate on policy_path_versions
  for each statement execute function bump_config_generation();
create trigger policy_bindings_generation after insert or update or delete or truncate on policy_bindings
  for each statement execute function bump_config_generation();
