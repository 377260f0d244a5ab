-- 003: the audit trail (ip_changes, denied) is append-only.
--
-- Two locks: the privileges to UPDATE, DELETE and TRUNCATE are revoked from
-- everyone including the owner (the store's role), and a trigger refuses
-- those operations for anyone the privilege check lets through (superusers,
-- or an owner who granted itself the privilege back).

REVOKE UPDATE, DELETE, TRUNCATE ON ip_changes, denied FROM PUBLIC, CURRENT_USER;

CREATE FUNCTION proxyhub_refuse_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'proxyhub: % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER ip_changes_append_only BEFORE UPDATE OR DELETE ON ip_changes
    FOR EACH ROW EXECUTE FUNCTION proxyhub_refuse_audit_change();
CREATE TRIGGER ip_changes_no_truncate BEFORE TRUNCATE ON ip_changes
    FOR EACH STATEMENT EXECUTE FUNCTION proxyhub_refuse_audit_change();
CREATE TRIGGER denied_append_only BEFORE UPDATE OR DELETE ON denied
    FOR EACH ROW EXECUTE FUNCTION proxyhub_refuse_audit_change();
CREATE TRIGGER denied_no_truncate BEFORE TRUNCATE ON denied
    FOR EACH STATEMENT EXECUTE FUNCTION proxyhub_refuse_audit_change();
