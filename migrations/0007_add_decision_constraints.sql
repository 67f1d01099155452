-- Why a decision came out as it did: which input or policy level narrowed the scope (and what it
-- removed) and which set the lifetime (src/delegation/decision.ts Constraint). Nullable, no default:
-- adding it rewrites nothing, and rows written before it have none.
alter table decisions add column constrained_by jsonb;
comment on column decisions.constrained_by is 'What narrowed the outcome: [{by, scope?, lifetime?}], by = subject_token | actor_token | task | resource | client | actor | policy:<path>.';
