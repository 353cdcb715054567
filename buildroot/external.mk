include $(sort $(wildcard $(BR2_EXTERNAL_OCPP_GW_PATH)/package/*/*.mk))
