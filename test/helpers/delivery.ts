import { expect } from 'chai';
import { DeliveryError } from '../../src/emitters/types';

/** The DeliveryError a delivery must fail with (its retryable flag is what the tests check). */
export async function deliveryError(delivery: Promise<unknown>): Promise<DeliveryError> {
  try {
    await delivery;
  } catch (err) {
    expect(err).to.be.instanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error('expected the delivery to fail');
}
