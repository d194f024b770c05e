"""Operations: ``MlflowMonitoring`` (alarms, dashboard, saved queries) and the server's log formats."""
