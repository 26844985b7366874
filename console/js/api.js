// The REST client: bearer token, JSON in and out, errors as ApiError with the server's code.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `http_${status}`;
    this.details = details;
  }
  /** True when the route itself does not exist on this server (backend not deployed yet). */
  get missingRoute() {
    // API Gateway (and chalice local) answer an unknown route with 403 "Missing Authentication Token".
    return this.status === 404 && this.code === "http_404" ||
      this.status === 403 && /Missing Authentication Token/i.test(this.message) ||
      this.status === 405;
  }
}

export class Api {
  /**
   * @param {string} base   API origin, "" for the console's own origin
   * @param {() => string|null} token
   * @param {(err: ApiError) => void} onUnauthorized  called on any 401
   */
  constructor(base, token, onUnauthorized) {
    this.base = base.replace(/\/$/, "");
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, body, { auth = true, signal } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const token = auth ? this.token() : null;
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(this.base + path, {
        method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(0, "network_error", error.message || "network error");
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const err = data?.error || {};
      const error = new ApiError(response.status, err.code, err.message || data?.message || response.statusText,
        err.details);
      if (response.status === 401 && auth && this.onUnauthorized) this.onUnauthorized(error);
      throw error;
    }
    return data;
  }

  login(email, password) {
    return this.request("POST", "/v1/agent/login", { email, password }, { auth: false });
  }
  me() {
    return this.request("GET", "/v1/agents/me");
  }
  whoami() {
    return this.request("GET", "/v1/me");
  }
  conversations(status = "open", cursor = null, limit = 100) {
    const q = new URLSearchParams({ status, limit: String(limit) });
    if (cursor) q.set("cursor", cursor);
    return this.request("GET", `/v1/conversations?${q}`);
  }
  conversation(id) {
    return this.request("GET", `/v1/conversations/${encodeURIComponent(id)}`);
  }
  messages(id, params) {
    const q = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
    return this.request("GET", `/v1/conversations/${encodeURIComponent(id)}/messages?${q}`);
  }
  visitor(id) {
    return this.request("GET", `/v1/visitors/${encodeURIComponent(id)}`);
  }
  cannedReplies() {
    return this.request("GET", "/v1/canned-replies");
  }
  createCanned(shortcut, text) {
    return this.request("POST", "/v1/canned-replies", { shortcut, text });
  }
  updateCanned(id, shortcut, text) {
    return this.request("PUT", `/v1/canned-replies/${encodeURIComponent(id)}`, { shortcut, text });
  }
  deleteCanned(id) {
    return this.request("DELETE", `/v1/canned-replies/${encodeURIComponent(id)}`);
  }
  createUpload(conversationId, file) {
    return this.request("POST", "/v1/uploads", {
      conversation_id: conversationId, name: file.name, content_type: file.type || "application/octet-stream",
      size: file.size,
    });
  }

  /** Post the file to object storage with the presigned form (all fields first, the file last). */
  async uploadTo(upload, file) {
    const form = new FormData();
    for (const [key, value] of Object.entries(upload.fields || {})) form.append(key, value);
    form.append("file", file);
    let response;
    try {
      response = await fetch(upload.url, { method: "POST", body: form });
    } catch (error) {
      throw new ApiError(0, "network_error", error.message || "upload failed");
    }
    if (!response.ok) throw new ApiError(response.status, "upload_failed", `storage answered ${response.status}`);
  }
}
