-- 0010: PLACEHOLDER on branch oidc only, so that 0012 applies on this branch alone (migration numbers must be
-- consecutive). The real 0010 belongs to another branch: DROP THIS FILE AT MERGE.
SELECT 1;
