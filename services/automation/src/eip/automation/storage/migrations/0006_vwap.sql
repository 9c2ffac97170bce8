-- VWAP schedules: each slice's weight from the market's volume profile (eip.automation.vwap),
-- fixed once per schedule by the first instance that computes it (NULL until then; TWAP: NULL).
ALTER TABLE schedules ADD COLUMN weights jsonb;
ALTER TABLE schedules ADD COLUMN profile text NOT NULL DEFAULT '';
