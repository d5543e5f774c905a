"""models layer of airflow-provider-polaris."""
