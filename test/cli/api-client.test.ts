import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiClient } from '../../src/cli/api-client.ts';

describe('ApiClient.url', () => {
  it('keeps the path prefix of a dashboard behind a proxy, and leaves absolute URLs alone', () => {
    const c = new ApiClient({ baseUrl: 'https://h.example/airut', token: null });
    assert.equal(c.url('/tasks/12'), 'https://h.example/airut/tasks/12');
    assert.equal(c.url('api/tasks/1'), 'https://h.example/airut/api/tasks/1');
    assert.equal(c.url('https://other.example/x'), 'https://other.example/x');
  });
});
