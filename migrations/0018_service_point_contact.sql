-- A phone or WhatsApp number people may call with a question, per service point; empty when the
-- office has none to publish (the bot then says to ask at the place, with its hours).
ALTER TABLE service_points ADD COLUMN contact TEXT NOT NULL DEFAULT '';
