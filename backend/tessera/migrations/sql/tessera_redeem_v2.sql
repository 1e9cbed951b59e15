-- Migration 0002: a redemption also queues the wallet pushes of its coupon (one outbox row per
-- registered Apple device and one for a saved Google object), in the same transaction, exactly
-- as wallet/changes.py does on SQLite. The decision itself is unchanged: migration 0002 renames
-- the 0001 function to tessera_redeem_decision and wraps it. Frozen for migration 0002.
CREATE OR REPLACE FUNCTION tessera_pass_changed(p_coupon bigint, p_now timestamptz) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO outbox (topic, target, coupon_id, created_at, available_at, attempts)
    SELECT 'apple_pass_push', d.push_token, r.coupon_id, p_now, p_now, 0
    FROM apple_registrations r JOIN apple_devices d ON d.id = r.device_id
    WHERE r.coupon_id = p_coupon
    UNION ALL
    SELECT 'google_object_state', g.object_id, g.coupon_id, p_now, p_now, 0
    FROM google_wallet_objects g
    WHERE g.coupon_id = p_coupon AND g.saved_at IS NOT NULL AND g.removed_at IS NULL
$$;

CREATE OR REPLACE FUNCTION tessera_redeem(
    p_scope text, p_key text, p_hash bytea, p_digest bytea, p_now timestamptz,
    p_store bigint, p_staff bigint, p_medium text, p_order_total bigint,
    p_subjects text[], p_window bigint, p_budget int, p_retry_after int
) RETURNS TABLE (status int, body jsonb, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_status int;
    v_body jsonb;
    v_replayed boolean;
BEGIN
    SELECT d.status, d.body, d.replayed INTO v_status, v_body, v_replayed
    FROM tessera_redeem_decision(p_scope, p_key, p_hash, p_digest, p_now, p_store, p_staff,
                                 p_medium, p_order_total, p_subjects, p_window, p_budget,
                                 p_retry_after) d;
    IF v_status = 201 AND NOT v_replayed THEN
        PERFORM tessera_pass_changed((v_body->>'coupon_id')::bigint, p_now);
    END IF;
    RETURN QUERY SELECT v_status, v_body, v_replayed;
END;
$$;
