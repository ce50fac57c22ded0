-- wrk script: the documented token request, with the credential from the environment.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "client_id=" .. os.getenv("CLIENT_ID")
  .. "&client_secret=" .. os.getenv("CLIENT_SECRET")
  .. "&grant_type=client_credentials&audience=https%3A%2F%2Fapi.sitecorecloud.io"

