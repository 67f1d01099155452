-- Policy administration (issue 13, docs/policy-paths.md): every version of a policy path says where it came
-- from — a file `mandate apply` read (and the sha-256 of its bytes), an admin of the admin API, or a prune by
-- `mandate apply --prune` — and why, when a reason was given; and a path can be retired: a last version
-- (the previous document kept) that no catalog, loader or list reads as a level, its bindings deleted.
-- Nullable columns and constant defaults only: versions written before this migration have no source.
alter table policy_path_versions
  add column source_kind   text check (source_kind in ('file', 'admin', 'prune')),
  add column source        text,
  add column source_digest text,
  add column reason        text,
  add column retired       boolean not null default false;
alter table policy_path_versions
  add constraint policy_path_versions_source check (
    (source_kind is null and source is null and source_digest is null)
    or (source_kind = 'file' and source is not null and source_digest is not null)
    or (source_kind in ('admin', 'prune') and source is not null and source_digest is null)
  );
comment on column policy_path_versions.source_kind is 'file: written by mandate apply (serve --apply) from a file; admin: by an admin (API or page); prune: retired by mandate apply --prune. Null: written before sources were kept.';
comment on column policy_path_versions.source is 'file: the file as given to apply; admin: admin:<client_id> or admin-person:<username>; prune: the folders apply was given.';
comment on column policy_path_versions.source_digest is 'file: the sha-256 (hex) of the file''s bytes.';
comment on column policy_path_versions.reason is 'Why the admin made this version (required on the admin API), when one was given.';
comment on column policy_path_versions.retired is 'A retirement: the path is no longer in force (no level, no bindings); document keeps the last content. A later version re-creates it.';
