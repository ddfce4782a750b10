DROP TABLE alert_pairs;
