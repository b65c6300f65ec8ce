/**
 * The FC WWN spelling on the wire (REFERENCE §9.5: 16 upper-case hex digits, no separators) in
 * every body and query the driver sends, whatever spelling the caller holds (the node id's
 * lower case, colons, sysfs's 0x). The simulator normalises what it receives, so only a recording
 * stand-in sees the bytes sent.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { HostEditOperation } from '../../src/wsapi/enums.js';
import { apiRequests, clientsOnFakes, reply, type ClientOnFake } from './fake-array.js';

const onFake = clientsOnFakes({ after: afterAll });

function setup(): Promise<ClientOnFake> {
  return onFake((req, res) =>
    req.method === 'GET' ? reply(res, 200, { total: 0, members: [] }) : reply(res, req.method === 'POST' ? 201 : 200),
  );
}

const SPELLINGS = ['10000000c9abcdef', '10:00:00:00:c9:ab:cd:ef', '0x10000000c9abcdef', '10000000C9ABCDEF'];
const WIRE = '10000000C9ABCDEF';

describe('FC WWNs on the wire', () => {
  test('host create, host path add and the initiator query send upper case without separators', async () => {
    const { fake, c } = await setup();
    await c.hosts.create({ name: 'h', FCWWNs: SPELLINGS });
    await c.hosts.modify('h', { pathOperation: HostEditOperation.ADD, FCWWNs: SPELLINGS });
    await c.hosts.queryByInitiators({ wwns: ['10:00:00:00:c9:ab:cd:ef'] });
    const [create, modify, query] = apiRequests(fake);
    expect(create).toMatchObject({ method: 'POST', body: { FCWWNs: SPELLINGS.map(() => WIRE) } });
    expect(modify).toMatchObject({
      method: 'PUT',
      body: { pathOperation: HostEditOperation.ADD, FCWWNs: SPELLINGS.map(() => WIRE) },
    });
    expect(decodeURIComponent(query!.url)).toContain(`FCPaths[wwn==${WIRE}]`);
    expect(decodeURIComponent(query!.url)).not.toContain('c9abcdef');
  });
});
