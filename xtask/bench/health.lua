function request()
  return wrk.format("GET", "/health")
end
