-- Policy replay (issue 13, POST /admin/v1/policy-paths:replay): each decision keeps the inputs it was decided
-- on besides the policy, so it can be decided again against a candidate policy. Compact JSON, no token strings
-- and no secrets: the claims and facts that matter to the decision (src/decisions/facts.ts). Nullable, no
-- default: adding it rewrites nothing; older rows have none.
alter table decisions add column facts jsonb;
comment on column decisions.facts is 'The decision''s inputs besides the policy (exchange: subject and actor claims, task, requested scope, client and resource facts; evaluation: the token''s facts and the action), for replaying it against a candidate policy. Null: recorded before facts were kept, or refused before (or after) the decision function ran.';
-- The replay reads the newest decisions since a time (at most 10,000): by this index, not a scan of them all.
-- BRIN: decisions arrive in time order, so block ranges summarise them; a btree here cost every exchange and
-- evaluation an index insert on the hot path for a query only admins run.
create index decisions_created_at on decisions using brin (created_at);
