-- The janitor prunes expired rows in small batches (src/janitor/): indexes that find them without a
-- scan, and an audit trail that stays append-only except for rows older than a cutoff the janitor
-- names for its own transaction (decision 0004). Indexes only and a function body: no table rewrite.

create index issued_tokens_expiry on issued_tokens (expires_at);
-- Which kept tokens depend on a candidate (depends_on holds actor tokens and their chains); most rows
-- depend on nothing, so only the others are indexed.
create index issued_tokens_depends_on on issued_tokens using gin (depends_on) where depends_on <> '{}';
create index decisions_time on decisions (created_at);
create index webhook_deliveries_done on webhook_deliveries (coalesce(delivered_at, failed_at))
  where delivered_at is not null or failed_at is not null;

create or replace function refuse_audit_change() returns trigger language plpgsql as $$
begin
  -- Only the janitor deletes, only past the retention the operator configured: it sets
  -- mandate.audit_prune_before for its transaction (set_config(..., true)), and only older rows go.
  if tg_op = 'DELETE'
    and old.occurred_at < nullif(current_setting('mandate.audit_prune_before', true), '')::timestamptz then
    return old;
  end if;
  raise exception 'audit_events is append-only';
end
$$;
comment on table audit_events is
  'Append-only: updates are refused by trigger, and deletes too, except rows older than the cutoff the janitor sets (mandate.audit_prune_before) for its transaction.';
