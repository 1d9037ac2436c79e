import { RequestRejectedError } from '../../errors.ts';
import { NegativeResponseCode as Nrc } from '../../nrc.ts';
import { DtcSettingType, controlDtcSetting } from '../../services/control-dtc-setting.ts';
import type { ServiceHandler } from './handler.ts';

/** 0x85: DTC recording on/off; no DTCSettingControlOptionRecord is supported (0x31). */
export const handleControlDtcSetting: ServiceHandler = async (request, { state, context }) => {
  const { settingType, options } = controlDtcSetting.decodeRequest(request);
  if (options.length > 0) throw new RequestRejectedError(Nrc.RequestOutOfRange, 'DTCSettingControlOptionRecord not supported');
  const on = settingType === DtcSettingType.On;
  await state.options.onControlDtcSetting?.(on, context);
  state.dtcSettingOn = on;
  return controlDtcSetting.encodeResponse({ settingType });
};
