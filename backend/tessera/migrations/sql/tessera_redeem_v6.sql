-- Migration 0016: tessera_redeem_v5.sql, and a redemption that spends a limit changes the
-- passes it makes used up (as the SQLite ledger does, with the statements of
-- ``tessera.wallet.changes``): the owner's limit stamps their counter's ``passes_changed_at`` and
-- queues the pushes of their other open coupons of the campaign in a wallet; the campaign's
-- limit stamps ``campaigns.passes_changed_at`` and queues one ``campaign_passes`` outbox row,
-- which walks the campaign's passes in chunks. The refusal codes, statuses and data fields are
-- those of ``tessera.offers.refusals`` (checked by tests/unit/test_offer_rules_contract.py), in
-- the order ``tessera.offers.rules.decide`` takes them. Frozen for migration 0016.
CREATE OR REPLACE FUNCTION tessera_redeem(
    p_scope text, p_key text, p_hash bytea, p_digest bytea, p_now timestamptz,
    p_store bigint, p_staff bigint, p_medium text, p_order_total bigint,
    p_subjects text[], p_budgets int[], p_window bigint, p_retry_after int,
    OUT status int, OUT body jsonb, OUT replayed boolean
)
LANGUAGE plpgsql AS $$
DECLARE
    v_rows int;
    v_hash bytea;
    v_stored bytea;
    c record;
    k record;
    v_redemption bigint;
    v_campaign_spent boolean := false;
    v_owner_spent boolean := false;
    v_other bigint;
BEGIN
    replayed := false;
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (scope, key, request_hash, created_at)
        VALUES (p_scope, p_key, p_hash, p_now) ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows = 0 THEN
            SELECT i.request_hash, i.status, i.body INTO v_hash, status, v_stored
            FROM idempotency_keys i WHERE i.scope = p_scope AND i.key = p_key;
            IF v_hash <> p_hash THEN
                status := 422; body := '{"code": "idempotency_key_reused"}';
            ELSIF status IS NULL THEN
                status := 409; body := '{"code": "request_in_progress"}';
            ELSE
                body := convert_from(v_stored, 'UTF8')::jsonb; replayed := true;
            END IF;
            RETURN;
        END IF;
    END IF;

    IF EXISTS (SELECT FROM attempt_counters a
               JOIN unnest(p_subjects, p_budgets) AS b (subject, budget) ON b.subject = a.subject
               WHERE a.window_start = p_window AND a.failures >= b.budget) THEN
        IF p_key IS NOT NULL THEN
            DELETE FROM idempotency_keys i WHERE i.scope = p_scope AND i.key = p_key;
        END IF;
        status := 429;
        body := jsonb_build_object('code', 'too_many_attempts', 'retry_after', p_retry_after);
        RETURN;
    END IF;

    UPDATE coupons SET redeemed_at = p_now, redemption_seq = redemption_seq + 1
    WHERE code_digest = p_digest AND redeemed_at IS NULL AND revoked_at IS NULL
      AND starts_at <= p_now AND expires_at > p_now
    RETURNING id, campaign_id, customer_id, channel, redemption_seq, wallet_added_at INTO c;

    IF NOT FOUND THEN
        SELECT cp.redeemed_at, cp.revoked_at, cp.starts_at, cp.expires_at, r.store_id, s.name AS store_name
        INTO k
        FROM coupons cp
        LEFT JOIN redemptions r ON r.coupon_id = cp.id AND r.seq = cp.redemption_seq AND r.kind = 'redeem'
        LEFT JOIN stores s ON s.id = r.store_id
        WHERE cp.code_digest = p_digest;
        IF NOT FOUND OR k.revoked_at IS NOT NULL THEN
            status := 404;
            body := '{"code": "invalid_code"}';
            -- In one order (by subject) in every transaction, as every other writer of the
            -- counters does: two failures at once never wait on each other's new rows.
            INSERT INTO attempt_counters AS a (subject, window_start, failures)
            SELECT s, p_window, 1 FROM (SELECT DISTINCT s FROM unnest(p_subjects) s) d ORDER BY s
            ON CONFLICT (subject, window_start) DO UPDATE SET failures = a.failures + 1;
        ELSIF k.redeemed_at IS NOT NULL THEN
            status := 409;
            body := jsonb_build_object('code', 'already_redeemed',
                'redeemed_at', tessera_rfc3339(k.redeemed_at), 'store_id', k.store_id,
                'store_name', k.store_name);
        ELSIF k.expires_at <= p_now THEN
            status := 410;
            body := jsonb_build_object('code', 'expired', 'expired_at', tessera_rfc3339(k.expires_at));
        ELSE
            status := 422;
            body := jsonb_build_object('code', 'not_yet_valid', 'valid_from', tessera_rfc3339(k.starts_at));
        END IF;
    ELSE
        -- KEY SHARE: adding a limit to a running campaign (FOR UPDATE + recount) waits for us.
        SELECT cm.max_redemptions, cm.per_customer_limit, cm.discount_kind, cm.discount_value, cm.currency,
               cm.stores, cm.min_order_total
        INTO k FROM campaigns cm WHERE cm.id = c.campaign_id FOR KEY SHARE;
        status := 201;
        IF k.stores IS NOT NULL AND NOT k.stores @> to_jsonb(p_store) THEN
            status := 422;
            body := jsonb_build_object('code', 'wrong_store', 'stores', (
                SELECT coalesce(jsonb_agg(jsonb_build_object('id', st.id, 'name', st.name) ORDER BY st.id),
                                '[]'::jsonb)
                FROM stores st WHERE k.stores @> to_jsonb(st.id)));
        ELSIF k.min_order_total IS NOT NULL AND (p_order_total IS NULL OR p_order_total < k.min_order_total) THEN
            status := 422;
            body := jsonb_build_object('code', 'below_minimum', 'min_order_total', k.min_order_total,
                                       'order_total', p_order_total);
        END IF;
        IF status = 201 AND k.max_redemptions IS NOT NULL THEN
            UPDATE campaigns SET redemption_count = redemption_count + 1
            WHERE id = c.campaign_id AND redemption_count < max_redemptions
            RETURNING redemption_count >= max_redemptions INTO v_campaign_spent;
            IF NOT FOUND THEN
                status := 422;
                body := '{"code": "limit_reached", "limit": "campaign"}';
            END IF;
        END IF;
        IF status = 201 AND c.customer_id IS NOT NULL AND k.per_customer_limit IS NOT NULL THEN
            INSERT INTO customer_redemption_counts AS n (campaign_id, customer_id, redeemed, passes_changed_at)
            VALUES (c.campaign_id, c.customer_id, 1, CASE WHEN k.per_customer_limit <= 1 THEN p_now END)
            ON CONFLICT (campaign_id, customer_id) DO UPDATE SET redeemed = n.redeemed + 1,
                passes_changed_at = CASE WHEN n.redeemed + 1 >= k.per_customer_limit THEN p_now
                                         ELSE n.passes_changed_at END
            WHERE n.redeemed < k.per_customer_limit
            RETURNING n.redeemed >= k.per_customer_limit INTO v_owner_spent;
            IF NOT FOUND THEN
                IF k.max_redemptions IS NOT NULL THEN
                    UPDATE campaigns SET redemption_count = redemption_count - 1 WHERE id = c.campaign_id;
                END IF;
                status := 422;
                body := '{"code": "limit_reached", "limit": "customer"}';
            END IF;
        END IF;
        IF status = 201 THEN
            INSERT INTO redemptions (kind, coupon_id, seq, campaign_id, customer_id, store_id, staff_id,
                                     medium, channel, order_total, occurred_at)
            VALUES ('redeem', c.id, c.redemption_seq, c.campaign_id, c.customer_id, p_store, p_staff,
                    p_medium, c.channel, p_order_total, p_now)
            RETURNING id INTO v_redemption;
            INSERT INTO events (occurred_at, type, campaign_id, coupon_id, customer_id, channel, medium,
                                store_id, staff_id, amount)
            VALUES (p_now, 'redeemed', c.campaign_id, c.id, c.customer_id, c.channel, p_medium,
                    p_store, p_staff, p_order_total);
            IF c.wallet_added_at IS NOT NULL THEN
                INSERT INTO outbox (topic, target, coupon_id, created_at, available_at, attempts)
                SELECT 'apple_pass_push', d.push_token, r.coupon_id, p_now, p_now, 0
                FROM apple_registrations r JOIN apple_devices d ON d.id = r.device_id
                WHERE r.coupon_id = c.id
                UNION ALL
                SELECT 'google_object_state', g.object_id, g.coupon_id, p_now, p_now, 0
                FROM google_wallet_objects g
                WHERE g.coupon_id = c.id AND g.saved_at IS NOT NULL AND g.removed_at IS NULL;
            END IF;
            IF v_owner_spent THEN
                -- Read, not locked: a till redeeming one of them at this moment holds its row.
                FOR v_other IN
                    SELECT o.id FROM coupons o
                    WHERE o.campaign_id = c.campaign_id AND o.customer_id = c.customer_id AND o.id <> c.id
                      AND o.wallet_added_at IS NOT NULL AND o.redeemed_at IS NULL AND o.revoked_at IS NULL
                LOOP
                    INSERT INTO outbox (topic, target, coupon_id, created_at, available_at, attempts)
                    SELECT 'apple_pass_push', d.push_token, r.coupon_id, p_now, p_now, 0
                    FROM apple_registrations r JOIN apple_devices d ON d.id = r.device_id
                    WHERE r.coupon_id = v_other
                    UNION ALL
                    SELECT 'google_object_state', g.object_id, g.coupon_id, p_now, p_now, 0
                    FROM google_wallet_objects g
                    WHERE g.coupon_id = v_other AND g.saved_at IS NOT NULL AND g.removed_at IS NULL;
                END LOOP;
            END IF;
            IF v_campaign_spent THEN
                UPDATE campaigns SET passes_changed_at = p_now WHERE id = c.campaign_id;
                INSERT INTO outbox (topic, target, coupon_id, payload, created_at, available_at, attempts)
                VALUES ('campaign_passes', c.campaign_id::text, NULL, '{"open_only": true}', p_now, p_now, 0);
            END IF;
            body := jsonb_build_object(
                'id', v_redemption, 'coupon_id', c.id, 'campaign_id', c.campaign_id,
                'redeemed_at', tessera_rfc3339(p_now),
                'store_id', p_store, 'staff_id', p_staff, 'medium', p_medium, 'channel', c.channel,
                'order_total', p_order_total,
                'discount', jsonb_build_object('kind', k.discount_kind, 'value', k.discount_value,
                                               'currency', k.currency));
        ELSE
            -- A rule refused it: give the coupon back as it was.
            UPDATE coupons SET redeemed_at = NULL, redemption_seq = redemption_seq - 1 WHERE id = c.id;
        END IF;
    END IF;

    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys SET status = tessera_redeem.status,
               body = convert_to(tessera_redeem.body::text, 'UTF8'),
               completed_at = p_now
        WHERE scope = p_scope AND key = p_key;
    END IF;
END;
$$;
