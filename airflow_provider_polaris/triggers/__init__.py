"""triggers layer of airflow-provider-polaris."""
