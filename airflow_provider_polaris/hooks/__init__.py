"""hooks layer of airflow-provider-polaris."""
