-- Issue 11: a schedule may follow a built-in holiday calendar (`israel`),
-- with what its rest days, eves and other days do. The JSON is the
-- `calendar` object of a schedule, as the API writes it; NULL: none.
ALTER TABLE schedules ADD COLUMN calendar jsonb;
