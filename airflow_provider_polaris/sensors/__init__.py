"""sensors layer of airflow-provider-polaris."""
