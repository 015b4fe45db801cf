-- Mailbox gauges moved out of D1 (durable-objects/gauge-hub.ts): each user's object now reports
-- to one of 16 GaugeHub objects instead of writing a row here on every connect and disconnect.
-- The rows are only the last reported values; the objects report again as devices come and go.
DROP TABLE mailbox_gauges;
